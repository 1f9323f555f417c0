"""SC10 driver against the exact bytes of hardware.md section 7: each pair is the command with its CR and the
whole reply (echo + CR, the value line + CR for queries and errors, then the prompt ``> ``). The driver writes
its own CR and frames on the prompt, so these pairs are the bytes on the serial line."""

from __future__ import annotations

import pytest
from pymeasure.test import expected_protocol

from tepl.drivers.thorlabs_sc10 import SC10, SC10Shutter
from tepl.roles import SAFE_ORDER, DeviceError, ExcitationShutter
from tepl.sims.thorlabs_sc10 import SC10Adapter, SC10Controller
from tepl.sims.world import World

# a public C client waits for exactly this reply (hardware.md 7.1)
REAL_ID = (b"id?\r", b"id?\rTHORLABS SC10 VERSION 1.0\r> ")


def q(command: str, value: str) -> tuple[bytes, bytes]:
    """A query and its reply: echo, value line, prompt."""
    return command.encode() + b"\r", command.encode() + b"\r" + value.encode() + b"\r> "


def c(command: str) -> tuple[bytes, bytes]:
    """A command and its reply: echo, prompt."""
    return command.encode() + b"\r", command.encode() + b"\r> "


def err(command: str, code: str) -> tuple[bytes, bytes]:
    return q(command, f"Command error {code}")


CONNECT = [REAL_ID, c("mode=1")]


# ---------------------------------------------------------------------------------------- the controller
def test_queries_real_reply_framing():
    pairs = [REAL_ID, q("ens?", "0"), q("closed?", "1"), q("interlock?", "0"), q("mode?", "1"),
             q("open?", "250"), q("shut?", "1000"), q("rep?", "5"), q("trig?", "0"), q("xto?", "1")]
    with expected_protocol(SC10, pairs) as inst:
        assert inst.idn == "THORLABS SC10 VERSION 1.0"
        assert inst.enabled is False
        assert inst.closed is True
        assert inst.interlock_tripped is False
        assert inst.mode == 1
        assert inst.open_time_ms == 250 and inst.shut_time_ms == 1000
        assert inst.repeat_count == 5 and inst.trigger == 0 and inst.out_trigger == 1


def test_settings_are_sent_as_key_equals_value():
    pairs = [c("mode=1"), c("open=250"), c("shut=1000"), c("rep=99"), c("trig=1"), c("xto=0")]
    with expected_protocol(SC10, pairs) as inst:
        inst.mode = 1
        inst.open_time_ms = 250
        inst.shut_time_ms = 999.6  # ms, rounded to the whole ms the controller takes
        inst.repeat_count = 99
        inst.trigger = 1
        inst.out_trigger = 0


def test_enable_is_a_toggle_sent_only_when_the_state_differs():
    pairs = [c("ens"), q("ens?", "0"), c("ens"), q("ens?", "1"), q("ens?", "1"), c("ens")]
    with expected_protocol(SC10, pairs) as inst:
        inst.toggle_enable()
        assert inst.set_enabled(True) is True
        assert inst.set_enabled(True) is False  # already enabled: nothing but the query
        assert inst.set_enabled(False) is True


@pytest.mark.parametrize(("attribute", "value"), [("mode", 0), ("mode", 6), ("open_time_ms", 1_000_000),
                                                  ("shut_time_ms", -1), ("repeat_count", 0), ("trigger", 2)])
def test_bad_values_are_refused_before_sending(attribute, value):
    with expected_protocol(SC10, []) as inst:
        with pytest.raises(ValueError):
            setattr(inst, attribute, value)


def test_commands_with_line_breaks_are_refused_before_sending():
    with expected_protocol(SC10, []) as inst:
        for bad in ("ens\rens", "ens?\n", "", "öffnen"):
            with pytest.raises(ValueError, match="keyword"):
                inst.write(bad)


# ---------------------------------------------------------------------------------------- errors
def test_unknown_command_raises_naming_instrument_command_and_reply():
    with expected_protocol(SC10, [err("ens=1", "CMD_NOT_DEFINED")], address="ASRL/dev/ttyUSB0::INSTR") as inst:
        with pytest.raises(DeviceError) as info:
            inst.command("ens=1")
    text = str(info.value)
    assert "Thorlabs SC10" in text and "ASRL/dev/ttyUSB0::INSTR" in text
    assert "'ens=1'" in text and "Command error CMD_NOT_DEFINED" in text


def test_invalid_argument_raises_on_a_setting_and_on_a_query():
    pairs = [err("open=1234567", "CMD_ARG_INVALID"), err("closed?", "CMD_NOT_DEFINED")]
    with expected_protocol(SC10, pairs) as inst:
        with pytest.raises(DeviceError, match="'open=1234567' was answered 'Command error CMD_ARG_INVALID'"):
            inst.command("open=1234567")
        with pytest.raises(DeviceError, match="'closed\\?' was answered 'Command error CMD_NOT_DEFINED'"):
            _ = inst.closed


def test_a_wrong_echo_is_a_device_error():
    with expected_protocol(SC10, [(b"ens?\r", b"ens\r1\r> ")]) as inst:
        with pytest.raises(DeviceError, match="sent 'ens\\?' but the echo was 'ens'"):
            _ = inst.enabled


def test_a_missing_prompt_is_a_device_error():
    """Old firmware / the PyPI InstrumentKit expected a bare '>': a reply that never shows '> ' is an error."""
    with expected_protocol(SC10, [(b"ens?\r", b"ens?\r1\r>")]) as inst:
        with pytest.raises(DeviceError, match="no complete reply to 'ens\\?'"):
            _ = inst.enabled


def test_a_non_flag_or_empty_value_is_a_device_error():
    with expected_protocol(SC10, [q("closed?", "maybe"), c("closed?")]) as inst:
        with pytest.raises(DeviceError, match="'maybe' where 0 or 1"):
            _ = inst.closed
        with pytest.raises(DeviceError, match="no value line"):
            inst.query("closed?")


def test_a_value_line_after_a_command_is_a_device_error():
    with expected_protocol(SC10, [q("ens", "1")]) as inst:
        with pytest.raises(DeviceError, match="only the prompt was expected"):
            inst.toggle_enable()


# ---------------------------------------------------------------------------------------- the shutter role
class Sleeps:
    def __init__(self):
        self.total_s = 0.0

    def __call__(self, dt_s: float) -> None:
        self.total_s += dt_s


def test_role_connects_in_manual_mode():
    with expected_protocol(SC10, CONNECT) as inst:
        shutter = SC10Shutter(inst, sleep=Sleeps())
        assert isinstance(shutter, ExcitationShutter)
        assert shutter.safe_group == "excitation" and shutter.safe_rank == min(SAFE_ORDER.values())
        assert shutter.identity == "THORLABS SC10 VERSION 1.0"


def test_role_refuses_a_controller_that_is_not_an_sc10():
    with expected_protocol(SC10, [q("id?", "THORLABS FW102C")]) as inst:
        with pytest.raises(DeviceError, match="'THORLABS FW102C', not a Thorlabs SC10"):
            SC10Shutter(inst)


def test_open_reads_interlock_and_enable_then_waits_for_closed_0():
    pairs = CONNECT + [q("interlock?", "0"), q("ens?", "0"), c("ens"), q("closed?", "1"), q("closed?", "0"),
                       q("closed?", "0")]
    with expected_protocol(SC10, pairs) as inst:
        sleeps = Sleeps()
        shutter = SC10Shutter(inst, poll_interval_s=0.01, sleep=sleeps)
        shutter.open()
        assert sleeps.total_s == pytest.approx(0.01)  # one poll while the blade moved
        assert shutter.is_open()


def test_open_is_refused_while_the_interlock_is_tripped_and_nothing_else_is_sent():
    with expected_protocol(SC10, CONNECT + [q("interlock?", "1")]) as inst:
        shutter = SC10Shutter(inst, sleep=Sleeps())
        with pytest.raises(DeviceError, match="interlock tripped"):
            shutter.open()


def test_shut_and_make_safe_are_idempotent_on_the_wire():
    pairs = CONNECT + [q("ens?", "1"), c("ens"), q("closed?", "1"), q("closed?", "1"),  # make_safe from open
                       q("ens?", "0"), q("closed?", "1"), q("closed?", "1")]  # and again: no ens sent
    with expected_protocol(SC10, pairs) as inst:
        shutter = SC10Shutter(inst, sleep=Sleeps())
        assert shutter.make_safe() == "closed"
        assert shutter.make_safe() == "closed"


def test_a_shutter_that_does_not_close_times_out_naming_the_controller():
    pairs = CONNECT + [q("ens?", "1"), c("ens")] + [q("closed?", "0")] * 6
    with expected_protocol(SC10, pairs, address="ASRL3::INSTR") as inst:
        sleeps = Sleeps()
        shutter = SC10Shutter(inst, open_timeout_s=0.05, poll_interval_s=0.01, sleep=sleeps)
        with pytest.raises(DeviceError, match="Thorlabs SC10 at ASRL3::INSTR: shutter still reports closed"):
            shutter.shut()
        assert sleeps.total_s == pytest.approx(0.05)


def test_bad_timeouts_are_refused():
    with expected_protocol(SC10, []) as inst:
        with pytest.raises(ValueError, match="open_timeout_s"):
            SC10Shutter(inst, open_timeout_s=0)


def test_settings_and_status():
    pairs = CONNECT + [q("mode?", "1"), q("open?", "10"), q("shut?", "20"), q("closed?", "1"),
                       q("interlock?", "0"), q("closed?", "0")]
    with expected_protocol(SC10, pairs, address="ASRL3::INSTR") as inst:
        shutter = SC10Shutter(inst, sleep=Sleeps())
        assert shutter.settings() == {
            "id": "THORLABS SC10 VERSION 1.0", "address": "ASRL3::INSTR", "mode": 1, "mode_name": "manual",
            "open_time_ms": 10, "shut_time_ms": 20, "open": False, "interlock_tripped": False,
            "open_timeout_s": 1.0}
        assert shutter.status("excitation_shutter") == {"excitation_shutter": "open"}


# ---------------------------------------------------------------------------------------- on the wire
def test_wire_bytes_against_the_simulator_and_release():
    """The bytes that really leave the driver, and the replies that come back, through the simulator."""
    world = World()
    controller = SC10Controller(world)
    adapter = SC10Adapter(controller)
    sent, received = [], []
    feed = adapter.connection.feed

    def recording_feed(data: bytes) -> bytes:
        sent.append(data)
        reply = feed(data)
        received.append(reply)
        return reply

    adapter.connection.feed = recording_feed
    shutter = SC10Shutter(SC10(adapter, address="sim"), sleep=world.clock.advance)
    shutter.open()
    assert sent == [b"id?\r", b"mode=1\r", b"interlock?\r", b"ens?\r", b"ens\r", b"closed?\r"]
    assert received[:2] == [b"id?\rTHORLABS SC10 VERSION 1.07\r> ", b"mode=1\r> "]
    assert received[4:] == [b"ens\r> ", b"closed?\r0\r> "]
    assert world.excitation_open
    shutter.close()
    assert adapter.closed
    with pytest.raises(DeviceError, match="could not send 'closed\\?'"):  # the released link, named
        shutter.is_open()
