"""E727 driver against the exact GCS 2.0 traffic of the PI manual / PIPython (hardware.md section 1).

``expected_protocol`` pairs carry each message without its LF terminator (pymeasure's convention; the
adapter adds and strips it); the single-byte commands and the #7 reply are raw bytes. The wire tests at
the end record the bytes that really leave the driver, terminators included.
"""

from __future__ import annotations

import math
import types

import pytest
from pymeasure.test import expected_protocol

from tepl.drivers.pi_e727 import E727
from tepl.drivers.pi_gcs import GCSError, gcs_number
from tepl.roles import DeviceError
from tepl.sims.pi_e727 import GCSAdapter
from tepl.sims.pi_e727_controller import GCSController
from tepl.sims.world import World

# Real E-727 answers quoted in hardware.md (PIPython example session, MagAO-X pi335Ctrl test).
REAL_IDN = "(c)2015-2018 Physik Instrumente (PI) GmbH & Co. KG, E-727.3CDA, 120040681, 14.11.01.05"
REAL_POS_LINES = ["1=1.883246040e+01 ", "2=1.747353172e+01 ", "3=0.000000000e+00"]
OK = ("ERR?", "0")


def lines_reply(command, lines):
    """A multi-line reply as pymeasure pairs: the first line answers ``command``, the rest follow."""
    return [(command, lines[0])] + [(None, line) for line in lines[1:]]


# ---------------------------------------------------------------------------------------- queries
def test_idn_and_gcs_version():
    with expected_protocol(E727, [("*IDN?", REAL_IDN), ("CSV?", "2.0")]) as inst:
        assert inst.idn == REAL_IDN
        assert inst.gcs_version == 2.0


def test_axes_multi_line_reply():
    with expected_protocol(E727, lines_reply("SAI?", ["1 ", "2 ", "3"])
                           + lines_reply("SAI? ALL", ["1 ", "2 ", "3"])) as inst:
        assert inst.axes() == ["1", "2", "3"]
        assert inst.all_axes() == ["1", "2", "3"]
        assert inst.all_axes() == ["1", "2", "3"]  # read once, then cached


def test_positions_of_all_axes_real_reply():
    with expected_protocol(E727, lines_reply("POS?", REAL_POS_LINES)) as inst:
        assert inst.positions_um() == {"1": 18.8324604, "2": 17.47353172, "3": 0.0}


def test_targets_of_named_axes():
    with expected_protocol(E727, lines_reply("MOV? 1 2", ["1=10 ", "2=20.5"])) as inst:
        assert inst.targets_um(["1", "2"]) == {"1": 10.0, "2": 20.5}


def test_on_target_and_servo_states():
    pairs = lines_reply("ONT? 1 2", ["1=1 ", "2=0"]) + lines_reply("SVO?", ["1=1 ", "2=1 ", "3=0"])
    with expected_protocol(E727, pairs) as inst:
        assert inst.on_target_states(["1", "2"]) == {"1": True, "2": False}
        assert inst.servo_states() == {"1": True, "2": True, "3": False}


def test_travel_range_real_values():
    with expected_protocol(E727, [("TMN? 1", "1=-1.5"), ("TMX? 1", "1=36.5")]) as inst:
        assert inst.travel_range_um("1") == {"1": (-1.5, 36.5)}


def test_velocities_query():
    with expected_protocol(E727, lines_reply("VEL? 1 3", ["1=1000 ", "3=2.5e+03"])) as inst:
        assert inst.velocities_um_s(["1", "3"]) == {"1": 1000.0, "3": 2500.0}


def test_per_axis_properties():
    pairs = [("SVO? 2", "2=1"), ("POS? 2", "2=1.747353172e+01"), ("ONT? 2", "2=0"), ("MOV? 2", "2=20.5"),
             ("VEL? 2", "2=1000"), ("DCO? 2", "2=1"), ("TMN? 2", "2=0"), ("TMX? 2", "2=100"),
             ("ATZ? 2", "2=1"), ("CST? 2", "2=P-611.3S")]
    with expected_protocol(E727, pairs) as inst:
        axis = inst.axis_2
        assert axis.servo_enabled is True
        assert axis.position_um == pytest.approx(17.47353172)
        assert axis.on_target is False
        assert axis.target_um == 20.5
        assert axis.velocity_um_s == 1000.0
        assert axis.drift_compensation_enabled is True
        assert (axis.travel_min_um, axis.travel_max_um) == (0.0, 100.0)
        assert axis.autozero_done is True
        assert axis.stage_type == "P-611.3S"


def test_error_register_query():
    with expected_protocol(E727, [("ERR?", "7"), ("ERR?", "0")]) as inst:
        assert inst.error_code == 7
        assert inst.error_code == 0


# ---------------------------------------------------------------------------------------- set-commands
def test_servo_set_checks_error():
    with expected_protocol(E727, [("SVO 1 1", None), OK, ("SVO 1 1 2 1 3 0\nERR?", "0")]) as inst:
        inst.axis_1.servo_enabled = True
        inst.set_servo({"1": True, "2": 1, "3": False})


def test_move_absolute_float_format():
    pairs = [("MOV 1 10\nERR?", "0"), ("MOV 1 12.5", None), OK, ("MOV 1 10 2 20.5\nERR?", "0"),
             ("MOV 3 0.000125\nERR?", "0")]
    with expected_protocol(E727, pairs) as inst:
        inst.move_um({"1": 10.0})
        inst.axis_1.target_um = 12.5
        inst.move_um({"1": 10, "2": 20.5})
        inst.move_um({"3": 1.25e-4})


def test_move_relative_and_velocity():
    pairs = [("MVR 3 -0.25\nERR?", "0"), ("VCO 1 1 2 1\nERR?", "0"), ("VEL 1 1000 2 2500.5\nERR?", "0"),
             ("VCO 3 1\nERR?", "0"), ("VEL 3 10000\nERR?", "0")]
    with expected_protocol(E727, pairs) as inst:
        inst.move_relative_um({"3": -0.25})
        inst.set_velocity_um_s({"1": 1000, "2": 2500.5})
        inst.axis_3.velocity_um_s = 1e4


def test_move_error_raises_with_code_meaning_and_command():
    with expected_protocol(E727, [("MOV 1 150\nERR?", "7")]) as inst:
        with pytest.raises(GCSError, match=r"E-727 error 7: position out of limits \(MOV 1 150\)") as err:
            inst.move_um({"1": 150})
        assert err.value.code == 7
        assert isinstance(err.value, DeviceError)


def test_property_set_error_raises():
    with expected_protocol(E727, [("MOV 2 10", None), ("ERR?", "5")]) as inst:
        with pytest.raises(GCSError, match="error 5") as err:
            inst.axis_2.target_um = 10
        assert err.value.code == 5 and err.value.command == "MOV 2 10"


# ---------------------------------------------------------------------------------------- stop, #5, #7
def test_stop_single_byte_swallows_error_10():
    with expected_protocol(E727, [(b"\x18", None), ("ERR?", "10"), ("STP", None), ("ERR?", "10"),
                                  ("HLT 1 2", None), ("ERR?", "10")]) as inst:
        inst.stop()
        inst.stop(single_byte=False)
        inst.halt(["1", "2"])


def test_stop_reports_other_errors():
    with expected_protocol(E727, [(b"\x18", None), ("ERR?", "5")]) as inst:
        with pytest.raises(GCSError, match=r"error 5: .*\(#24\)"):
            inst.stop()


def test_ready_byte():
    with expected_protocol(E727, [(b"\x07", b"\xb1\n"), (b"\x07", b"\xb0\n"), (b"\x07", b"\x00\n")]) as inst:
        assert inst.is_ready() is True
        assert inst.is_ready() is False
        with pytest.raises(DeviceError, match="#7"):
            inst.is_ready()


def test_motion_status_bitmask_over_all_axes():
    pairs = lines_reply("SAI? ALL", ["1 ", "2 ", "3"]) + [(b"\x05", "5"), (b"\x05", "0")]
    with expected_protocol(E727, pairs) as inst:
        assert inst.moving() == {"1": True, "2": False, "3": True}
        assert inst.moving() == {"1": False, "2": False, "3": False}


# ---------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "10", None, True])
def test_non_finite_targets_refused_before_sending(value):
    with expected_protocol(E727, []) as inst:
        with pytest.raises(ValueError, match="MOV 1"):
            inst.move_um({"1": value})
        with pytest.raises(ValueError):
            inst.axis_1.target_um = value


@pytest.mark.parametrize("axis", ["", "1 2", "1\n", "x=1", 1])
def test_bad_axis_names_refused_before_sending(axis):
    with expected_protocol(E727, []) as inst:
        with pytest.raises(ValueError, match="axis"):
            inst.move_um({axis: 1.0})
        with pytest.raises(ValueError, match="axis"):
            inst.positions_um([axis])


def test_axes_not_on_the_controller_refused_once_known():
    with expected_protocol(E727, lines_reply("SAI?", ["1 ", "2 ", "3"])) as inst:
        inst.axes()
        with pytest.raises(ValueError, match="unknown E-727 axes"):
            inst.move_um({"4": 1.0})


def test_bad_velocity_and_servo_values_refused():
    with expected_protocol(E727, []) as inst:
        with pytest.raises(ValueError, match="positive"):
            inst.set_velocity_um_s({"1": 0.0})
        with pytest.raises(ValueError):
            inst.set_servo({"1": 2})
        with pytest.raises(ValueError):
            inst.axis_1.servo_enabled = "on"
        with pytest.raises(ValueError, match="at least one axis"):
            inst.move_um({})


@pytest.mark.parametrize("reply", ["garbage", "1=", "2=10", "1=abc"])
def test_malformed_position_reply_is_a_device_error(reply):
    with expected_protocol(E727, [("POS? 1", reply)]) as inst:
        with pytest.raises(DeviceError):
            _ = inst.axis_1.position_um


def test_non_boolean_on_target_reply_is_a_device_error():
    with expected_protocol(E727, lines_reply("ONT? 1 2", ["1=1 ", "2=2"])) as inst:
        with pytest.raises(DeviceError, match="0 or 1"):
            inst.on_target_states(["1", "2"])


def test_reply_for_other_axes_is_a_device_error():
    with expected_protocol(E727, lines_reply("POS? 1 2", ["1=1 ", "3=2"])) as inst:
        with pytest.raises(DeviceError, match="asked for"):
            inst.positions_um(["1", "2"])


def test_gcs_number_format():
    assert [gcs_number(v) for v in (10.0, 12.5, 1, -0.25, 1e-5, 1 / 3)] == [
        "10", "12.5", "1", "-0.25", "1e-05", "0.333333333333"]


# ---------------------------------------------------------------------------------------- on the wire
@pytest.fixture
def wire():
    """An E727 on the in-process simulator, with every byte it sends recorded."""
    controller = GCSController(World(sample=types.SimpleNamespace()))
    adapter = GCSAdapter(controller)
    sent: list[bytes] = []
    feed = adapter.connection.feed

    def recording_feed(data: bytes) -> bytes:
        sent.append(bytes(data))
        return feed(data)

    adapter.connection.feed = recording_feed
    return E727(adapter), sent


def test_wire_bytes_of_set_commands_and_stop(wire):
    inst, sent = wire
    inst.set_servo({"1": True})
    inst.move_um({"1": 10.0})
    inst.axis_1.target_um = 12.5
    inst.stop()
    assert sent == [b"SVO 1 1\nERR?\n", b"MOV 1 10\nERR?\n",  # a set-command and its ERR? in one write
                    b"MOV 1 12.5\n", b"ERR?\n", b"\x18", b"ERR?\n"]


def test_wire_bytes_of_queries_and_single_byte_commands(wire):
    inst, sent = wire
    assert inst.is_ready() is True
    inst.positions_um()
    inst.moving()
    assert sent == [b"\x07", b"POS?\n", b"SAI? ALL\n", b"\x05"]
