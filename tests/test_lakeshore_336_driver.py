"""Lake Shore 336 driver against the exact bytes of hardware.md section 8: every line the driver sends is
the item, ``;*ESR?`` and LF; every answer is the query's value (if any), ``;`` and the event status register,
then CR LF. A refused item (register bits 32, 16, 4) or a missing answer is a DeviceError naming the
controller, its address and the command."""

from __future__ import annotations

import pytest
from pymeasure.test import expected_protocol

from tepl.drivers.lakeshore_336 import LakeShore336
from tepl.drivers.lakeshore_336_controller import LakeShore336Controller
from tepl.limits import LimitError, Range
from tepl.roles import SAFE_ORDER, DeviceError, TemperatureController

IDN = "LSCI,MODEL336,1234567/1234567,2.9"


def q(command: str, value: str, esr: int = 0) -> tuple[bytes, bytes]:
    return f"{command};*ESR?\n".encode(), f"{value};{esr}\r\n".encode()


def c(command: str, esr: int = 0) -> tuple[bytes, bytes]:
    return f"{command};*ESR?\n".encode(), f"{esr}\r\n".encode()


def test_queries_and_commands_on_the_wire():
    pairs = [q("*IDN?", IDN), q("KRDG? A", "+295.000"), q("RDGST? B", "0"), q("SETP? 1", "+50.000"),
             c("SETP 1,20.0000"), q("RANGE? 1", "2"), c("RANGE 1,3"), q("HTR? 2", "+12.5"),
             q("PID? 1", "+50.0,+20.0,+0"), c("PID 1,50,20,0"), q("OUTMODE? 1", "1,1,0"),
             c("OUTMODE 2,1,2,0")]
    with expected_protocol(LakeShore336, pairs) as inst:
        assert inst.idn == IDN
        assert inst.kelvin("A") == 295.0
        assert inst.reading_status("b") == 0
        assert inst.setpoint(1) == 50.0
        inst.set_setpoint(1, 20)
        assert inst.heater_range(1) == 2
        inst.set_heater_range(1, 3)
        assert inst.heater_output(2) == 12.5
        assert inst.pid(1) == (50.0, 20.0, 0.0)
        inst.set_pid(1, 50, 20, 0)
        assert inst.output_mode(1) == (1, 1, 0)
        inst.set_output_mode(2, 1, "B")


def test_all_heaters_off_sends_every_output():
    with expected_protocol(LakeShore336, [c(f"RANGE {n},0") for n in (1, 2, 3, 4)]) as inst:
        inst.all_heaters_off()


@pytest.mark.parametrize("esr, word", [(32, "command error"), (16, "execution error"), (4, "query error")])
def test_a_refused_item_names_controller_address_and_command(esr, word):
    with expected_protocol(LakeShore336, [c("SETP 1,20.0000", esr)], address="tcp://cryo:7777") as inst:
        with pytest.raises(DeviceError, match=rf"Lake Shore 336 at tcp://cryo:7777: 'SETP 1,20.0000'.*{word}"):
            inst.set_setpoint(1, 20)


def test_a_query_answered_without_its_register_or_value_is_an_error():
    with expected_protocol(LakeShore336, [(b"KRDG? A;*ESR?\n", b"+4.000\r\n")]) as inst:
        with pytest.raises(DeviceError, match="KRDG\\? A.*no event status register"):
            inst.kelvin("A")
    with expected_protocol(LakeShore336, [(b"KRDG? A;*ESR?\n", b"4\r\n")]) as inst:
        with pytest.raises(DeviceError, match="query error"):
            inst.kelvin("A")
    with expected_protocol(LakeShore336, [q("KRDG? A", "hot")]) as inst:
        with pytest.raises(DeviceError, match="'hot'"):
            inst.kelvin("A")


def test_no_answer_is_an_error_naming_the_command():
    with expected_protocol(LakeShore336, [(b"KRDG? A;*ESR?\n", None)]) as inst:
        with pytest.raises(DeviceError, match="no complete reply to 'KRDG\\? A' .*does not answer a bad query"):
            inst.kelvin("A")


def test_bad_arguments_are_refused_before_sending():
    with expected_protocol(LakeShore336, []) as inst:
        for call in (lambda: inst.kelvin("E"), lambda: inst.set_heater_range(1, 4), lambda: inst.set_heater_range(3, 2),
                     lambda: inst.set_pid(1, 0, 20, 0), lambda: inst.heater_output(3),
                     lambda: inst.set_output_mode(1, 7, "A"), lambda: inst.write("SETP 1,2;RANGE 1,3")):
            with pytest.raises(ValueError):
                call()


CONNECT = [q("*IDN?", IDN)]
LOOP = [q("OUTMODE? 1", "0,0,0"), c("OUTMODE 1,1,1,0")]


def _role(inst, **kwargs) -> LakeShore336Controller:
    return LakeShore336Controller(inst, Range(3.0, 300.0, "K", "instruments.cryostat.setpoint_range_k"),
                                  sleep=lambda s: None, **kwargs)


def test_role_sets_closed_loop_once_then_setpoint_and_range():
    pairs = CONNECT + LOOP + [c("SETP 1,20.0000"), c("RANGE 1,2"), q("KRDG? A", "+19.990"), q("SETP? 1", "+20.000"),
                               q("RANGE? 1", "2")]
    with expected_protocol(LakeShore336, pairs) as inst:
        role = _role(inst)
        assert isinstance(role, TemperatureController) and role.safe_rank == SAFE_ORDER["motion"]
        assert role.set_setpoint_k(None, 20) == 20.0
        role.set_heater_range(1, "medium")
        assert role.temperature_k() == 19.99
        assert role.setpoint_k() == 20.0
        assert role.heater_range() == "medium"


def test_role_refuses_setpoint_outside_its_range_before_sending():
    with expected_protocol(LakeShore336, CONNECT) as inst:
        role = _role(inst)
        with pytest.raises(LimitError, match="instruments.cryostat.setpoint_range_k"):
            role.set_setpoint_k(1, 400)
        with pytest.raises(ValueError):
            role.set_heater_range(1, "max")


def test_role_refuses_a_foreign_identity():
    with expected_protocol(LakeShore336, [q("*IDN?", "LSCI,MODEL218,1/1,1.0")]) as inst:
        with pytest.raises(DeviceError, match="not a Lake Shore 335 / 336"):
            _role(inst)


def test_make_safe_switches_every_heater_off_or_keeps_them():
    pairs = CONNECT + [c(f"RANGE {n},0") for n in (1, 2, 3, 4)] + [q("RANGE? 1", "0")]
    with expected_protocol(LakeShore336, pairs) as inst:
        assert _role(inst).make_safe() == "heater off"
    with expected_protocol(LakeShore336, CONNECT) as inst:
        assert _role(inst, safe_heater="keep").make_safe() == "heater left as configured"


def test_wait_stable_holds_then_returns_and_times_out():
    readings = ["+19.000", "+19.950", "+20.020", "+19.990"]
    pairs = CONNECT + [q("SETP? 1", "+20.000")] + [q("KRDG? A", r) for r in readings]
    slept = []
    with expected_protocol(LakeShore336, pairs) as inst:
        role = LakeShore336Controller(inst, Range(3.0, 300.0, "K"), sleep=slept.append, poll_interval_s=1.0)
        assert role.wait_stable(0.1, 2.0, 60.0) == 19.99
        assert slept == [1.0, 1.0, 1.0]
    pairs = CONNECT + [q("SETP? 1", "+20.000")] + [q("KRDG? A", "+10.000")] * 3
    with expected_protocol(LakeShore336, pairs) as inst:
        role = LakeShore336Controller(inst, Range(3.0, 300.0, "K"), sleep=lambda s: None, poll_interval_s=1.0)
        with pytest.raises(DeviceError, match="last reading 10 K"):
            role.wait_stable(0.1, 2.0, 2.0)
