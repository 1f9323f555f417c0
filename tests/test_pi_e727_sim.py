"""The E-727 simulator's GCS 2.0 semantics (hardware.md section 1), checked byte by byte and against the
World it moves. Reply framing is checked with PIPython's own end-of-reply rules."""

from __future__ import annotations

import time
import types

import numpy as np
import pytest
from pipython.pidevice.common.gcscommands_helpers import getsupportedfunctions
from pipython.pidevice.gcsmessages import GCSMessages, eol

from tepl.sims.pi_e727 import GCSAdapter
from tepl.sims.pi_e727_controller import GCSController
from tepl.sims.pi_e727_gcs import GCSSession
from tepl.sims.world import World


def make_world(real_time: bool = False) -> World:
    return World(sample=types.SimpleNamespace(), real_time=real_time)


@pytest.fixture
def world():
    return make_world()


@pytest.fixture
def ctl(world):
    return GCSController(world)


def ask(ctl: GCSController, command: str) -> str:
    """Send one command line; return its reply text, checked to be one complete GCS reply (or nothing)."""
    reply = ctl.handle(command.encode("cp1252") + b"\n").decode("cp1252")
    if reply:
        assert eol(reply), f"reply {reply!r} is not complete by the GCS eol rule"
        GCSMessages._check_no_eol(reply)
    return reply


def err(ctl: GCSController) -> int:
    return int(ask(ctl, "ERR?"))


def values(reply: str) -> dict[str, str]:
    return dict(line.strip().split("=", 1) for line in reply.splitlines())


def servo_on(ctl):
    assert ask(ctl, "SVO 1 1 2 1 3 1") == ""
    assert err(ctl) == 0


# ---------------------------------------------------------------------------------------- identity, help
def test_identification_and_syntax_version(ctl):
    assert ask(ctl, "CSV?") == "2.0\n"
    assert ask(ctl, "*IDN?").split(",")[1].strip().startswith("E-727")
    assert err(ctl) == 0


def test_axes_lists(ctl):
    assert ask(ctl, "SAI?") == "1 \n2 \n3\n"
    assert ask(ctl, "SAI? ALL") == "1 \n2 \n3\n"


def test_help_lists_every_command_the_clients_use(ctl):
    reply = ask(ctl, "HLP?")
    lines = reply.splitlines()
    assert all(line.strip() for line in lines), "no blank lines in HLP?"
    funcs = getsupportedfunctions(reply)
    for name in ("qIDN", "IsMoving", "IsControllerReady", "StopAll", "qSAI", "SVO", "qSVO", "MOV", "qMOV",
                 "MVR", "qPOS", "qONT", "qTMN", "qTMX", "VEL", "qVEL", "DCO", "qDCO", "ATZ", "qATZ", "qCST",
                 "VCO", "qVCO", "STP", "HLT", "qERR", "qCSV", "qHLP", "qVER"):
        assert name in funcs, name


def test_every_multi_line_reply_is_framed_by_space_lf(ctl):
    for command in ("POS?", "MOV?", "ONT?", "SVO?", "TMN?", "TMX?", "VEL?", "VCO?", "DCO?", "ATZ?", "CST?", "VER?"):
        reply = ask(ctl, command)
        assert reply.count(" \n") == len(reply.splitlines()) - 1, command
    assert values(ask(ctl, "TMN?")) == {"1": "0.000000000e+00", "2": "0.000000000e+00", "3": "0.000000000e+00"}
    assert [float(v) for v in values(ask(ctl, "TMX? 2 3")).values()] == [100.0, 100.0]
    assert values(ask(ctl, "CST? 3")) == {"3": "P-611.3S"}


# ---------------------------------------------------------------------------------------- error codes
def test_err_clears_on_read(ctl):
    ask(ctl, "XYZ 1")
    assert err(ctl) == 2
    assert err(ctl) == 0


def test_unknown_command_gives_2_and_no_reply(ctl):
    assert ask(ctl, "FOO? 1") == ""
    assert err(ctl) == 2
    assert ctl.handle(b"\x04") == b""
    assert err(ctl) == 2


def test_move_with_servo_off_gives_5_and_no_motion(ctl, world):
    before = world.stage_um.copy()
    ask(ctl, "MOV 1 10")
    assert err(ctl) == 5
    assert float(values(ask(ctl, "MOV? 1"))["1"]) == pytest.approx(before[0])
    world.clock.advance(1.0)
    ask(ctl, "POS?")
    np.testing.assert_array_equal(world.stage_um, before)


def test_move_beyond_travel_gives_7_and_no_axis_moves(ctl, world):
    servo_on(ctl)
    before = world.stage_um.copy()
    ask(ctl, "MOV 1 10 2 150")
    assert err(ctl) == 7
    ask(ctl, "MVR 3 -60")
    assert err(ctl) == 7
    world.clock.advance(1.0)
    assert [float(v) for v in values(ask(ctl, "MOV?")).values()] == pytest.approx(list(before))
    np.testing.assert_array_equal(world.stage_um, before)


@pytest.mark.parametrize("command", ["STP", "HLT", "HLT 2", "\x18"])
def test_stop_commands_give_10_and_freeze_the_move(ctl, world, command):
    servo_on(ctl)
    ask(ctl, "VCO 1 1")
    ask(ctl, "VEL 1 100")
    ask(ctl, "MOV 1 90")
    world.clock.advance(0.1)  # 10 µm into a 40 µm move
    if command == "\x18":
        assert ctl.handle(b"\x18") == b""
    else:
        ask(ctl, command)
    assert err(ctl) == 10
    stopped = float(values(ask(ctl, "POS? 1"))["1"])
    world.clock.advance(1.0)
    if command == "HLT 2":  # axis 1 was not halted: it arrives
        assert float(values(ask(ctl, "POS? 1"))["1"]) == 90.0
    else:
        assert 55.0 < stopped < 65.0
        assert float(values(ask(ctl, "POS? 1"))["1"]) == stopped
        assert world.stage_um[0] == stopped


def test_bad_axis_gives_15(ctl):
    servo_on(ctl)
    ask(ctl, "MOV 4 10")
    assert err(ctl) == 15
    assert ask(ctl, "POS? 9") == ""
    assert err(ctl) == 15


@pytest.mark.parametrize("command,code", [("MOV 1", 24), ("MOV", 24), ("SVO", 24), ("*IDN? 1", 24),
                                          ("STP 1", 24), ("MOV 1 abc", 1), ("MOV 1 nan", 1),
                                          ("SVO 1 2", 17), ("VEL 1 0", 8), ("VEL 1 -5", 8)])
def test_parameter_errors(ctl, command, code):
    servo_on(ctl)
    ask(ctl, command)
    assert err(ctl) == code


def test_too_long_command_gives_3(ctl):
    ctl.handle(b"MOV 1 " + b"1" * 1000 + b"\n")
    assert err(ctl) == 3


# ---------------------------------------------------------------------------------------- single bytes
def test_ready_byte_and_autozero_busy(ctl, world):
    assert ctl.handle(b"\x07") == b"\xb1\n"
    ask(ctl, "ATZ 1 NaN 2 NaN")
    assert err(ctl) == 0
    assert ctl.handle(b"\x07") == b"\xb0\n"
    assert values(ask(ctl, "ATZ?")) == {"1": "0", "2": "0", "3": "1"}
    world.clock.advance(0.5)
    assert ctl.handle(b"\x07") == b"\xb1\n"
    assert values(ask(ctl, "ATZ?")) == {"1": "1", "2": "1", "3": "1"}


def test_motion_status_bitmask(ctl, world):
    servo_on(ctl)
    assert ctl.handle(b"\x05") == b"0\n"
    ask(ctl, "VCO 1 1 3 1")
    ask(ctl, "VEL 1 100 3 100")
    ask(ctl, "MOV 1 60 3 40")
    assert ctl.handle(b"\x05") == b"5\n"  # axes 1 and 3 (bits 0 and 2)
    world.clock.advance(1.0)
    assert ctl.handle(b"\x05") == b"0\n"


# ---------------------------------------------------------------------------------------- dynamics
def test_move_takes_time_and_on_target_goes_0_to_1(ctl, world):
    servo_on(ctl)
    assert values(ask(ctl, "VCO 1 1")) == {} and values(ask(ctl, "VEL 1 100")) == {} and err(ctl) == 0
    t0 = world.clock.now()
    ask(ctl, "MOV 1 60")
    assert values(ask(ctl, "ONT?")) == {"1": "0", "2": "1", "3": "1"}
    world.clock.advance(0.05 - (world.clock.now() - t0))  # halfway through 10 µm at 100 µm/s
    halfway = float(values(ask(ctl, "POS? 1"))["1"])
    assert halfway == pytest.approx(55.0, abs=0.1)
    assert world.stage_um[0] == halfway
    history = []
    while values(ask(ctl, "ONT? 1"))["1"] == "0":
        history.append(world.clock.now() - t0)
        world.clock.advance(0.001)
        assert world.clock.now() - t0 < 1.0
    assert history[-1] >= 0.1  # 10 µm / 100 µm/s, then settling
    assert float(values(ask(ctl, "POS? 1"))["1"]) == 60.0
    np.testing.assert_allclose(world.stage_um, [60.0, 50.0, 50.0])


def test_mvr_is_relative_to_the_commanded_target(ctl, world):
    servo_on(ctl)
    ask(ctl, "MOV 2 20")
    ask(ctl, "MVR 2 2.5")
    assert err(ctl) == 0
    assert float(values(ask(ctl, "MOV? 2"))["2"]) == 22.5
    world.clock.advance(1.0)
    assert float(values(ask(ctl, "POS? 2"))["2"]) == 22.5
    assert world.stage_um[1] == 22.5


def test_servo_dco_and_velocity_state(ctl):
    assert values(ask(ctl, "SVO?")) == {"1": "0", "2": "0", "3": "0"}
    ask(ctl, "SVO 2 1")
    ask(ctl, "DCO 1 1 3 1")
    ask(ctl, "VEL 3 2500.5")
    assert err(ctl) == 0
    assert values(ask(ctl, "SVO?")) == {"1": "0", "2": "1", "3": "0"}
    assert values(ask(ctl, "DCO? 1 2 3")) == {"1": "1", "2": "0", "3": "1"}
    assert float(values(ask(ctl, "VEL? 3"))["3"]) == 2500.5


def test_each_command_costs_wire_time(ctl, world):
    t0 = world.clock.now()
    for _ in range(10):
        ask(ctl, "ERR?")
    assert world.clock.now() > t0


def test_real_time_world_moves_with_the_wall_clock():
    world = make_world(real_time=True)
    ctl = GCSController(world)
    servo_on(ctl)
    ask(ctl, "VCO 1 1")
    ask(ctl, "VEL 1 20")
    ask(ctl, "MOV 1 70")  # 20 µm at 20 µm/s: 1 s of wall time
    assert values(ask(ctl, "ONT? 1")) == {"1": "0"}
    time.sleep(1.3)
    assert values(ask(ctl, "ONT? 1")) == {"1": "1"}
    assert world.stage_um[0] == 70.0


# ---------------------------------------------------------------------------------------- framing
def test_commands_split_across_chunks_and_batched(ctl):
    assert ctl.handle(b"SV") == b""
    assert ctl.handle(b"O 1 1\nER") == b""
    assert ctl.handle(b"R?\n") == b"0\n"
    assert ctl.handle(b"MOV 1 500\nERR?\nCSV?\n\x07") == b"7\n2.0\n\xb1\n"
    assert ctl.handle(b"\r\n\nERR?\r\n") == b"0\n"  # empty lines are no commands; CR is ignored


def test_sessions_keep_their_own_partial_lines(ctl):
    a, b = GCSSession(ctl), GCSSession(ctl)
    assert a.feed(b"CS") == b""
    assert b.feed(b"SAI?\n") == b"1 \n2 \n3\n"
    assert a.feed(b"V?\n") == b"2.0\n"


def test_adapter_reads_lines_and_bytes(ctl):
    adapter = GCSAdapter(ctl)
    adapter.write("SAI?")
    assert [adapter.read(), adapter.read(), adapter.read()] == ["1 ", "2 ", "3"]
    adapter.write_bytes(b"\x07")
    assert adapter.read_bytes(2) == b"\xb1\n"
    with pytest.raises(TimeoutError):
        adapter.read()
    adapter.write("ERR?")
    adapter.flush_read_buffer()
    with pytest.raises(TimeoutError):
        adapter.read_bytes(1)
