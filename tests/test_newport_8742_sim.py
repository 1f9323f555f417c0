"""The 8742 simulator against the checklist of hardware.md section 2, over real loopback sockets (the telnet
greeting, CR or LF terminators, CR LF replies, the address prefix, the error queue) and in-process under the
tepl driver: motion takes time at the set velocity, the actuator travel in the World follows step sizes that
differ forward and backward and drift, all judged against the simulator's own state."""

from __future__ import annotations

import socket

import pytest

from tepl.drivers.newport_8742 import Picomotor8742
from tepl.drivers.newport_8742_positioner import Picomotor8742Positioner
from tepl.roles import DeviceError
from tepl.sims.newport_8742 import (
    IDENTITY,
    TELNET_PREAMBLE,
    Picomotor8742Adapter,
    Picomotor8742Controller,
    serve,
)
from tepl.sims.world import World


class Line:
    """A plain socket client: sends a line, reads one CR LF reply."""

    def __init__(self, address):
        self.sock = socket.create_connection(address, timeout=2)
        self.buffer = bytearray()

    def recv_exactly(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(4096)
            assert chunk, "connection closed"
            self.buffer += chunk
        out = bytes(self.buffer[:n])
        del self.buffer[:n]
        return out

    def ask(self, text: str, end: bytes = b"\r") -> str:
        self.sock.sendall(text.encode() + end)
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            assert chunk, "connection closed"
            self.buffer += chunk
        line, _, rest = bytes(self.buffer).partition(b"\r\n")
        self.buffer = bytearray(rest)
        return line.decode()

    def send(self, text: str) -> None:
        self.sock.sendall(text.encode() + b"\r")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def served():
    world = World()
    with serve(world, 0) as server:
        yield world, server.controller, server


@pytest.fixture
def client(served):
    line = Line(served[2].address)
    assert line.recv_exactly(6) == TELNET_PREAMBLE  # quartiq's client asserts exactly these bytes
    yield line
    line.close()


def test_telnet_greeting_then_identity_with_either_terminator(client):
    assert client.ask("*IDN?") == IDENTITY
    assert client.ask("*idn?", end=b"\n\r") == IDENTITY  # pylablib's USB terminator: the empty line is ignored
    client.sock.sendall(b"\xff\xfd\x01")  # a telnet client's IAC DO ECHO is dropped
    assert client.ask("VE?").startswith("8742")


def test_several_queries_on_one_line_share_the_reply(client):
    assert client.ask("3VA?; 3AC?") == "2000; 100000"


def test_address_prefix_is_repeated_and_other_addresses_are_silent(client, served):
    assert client.ask("1>1TP?") == "1>0"
    client.send("5>1TP?")
    assert client.ask("SA?") == "1"  # nothing came back for address 5
    assert client.ask("SC?") == str(1 << 1)


def test_error_queue_codes_and_order(client):
    client.send("1XX")
    client.send("5PR1")
    client.send("1VA3000")
    client.send("1AC0")
    client.send("1PR12x")
    assert client.ask("TE?") == "6"
    assert client.ask("TB?") == "9, AXIS NUMBER OUT OF RANGE"
    assert client.ask("TB?") == "110, MAXIMUM VELOCITY EXCEEDED"
    assert client.ask("TB?") == "111, MAXIMUM ACCELERATION EXCEEDED"
    assert client.ask("TB?") == "7, PARAMETER OUT OF RANGE"
    assert client.ask("TB?") == "0, NO ERROR DETECTED"
    for _ in range(12):
        client.send("ZZZ")
    codes = [client.ask("TE?") for _ in range(11)]
    assert codes == ["6"] * 10 + ["0"]  # 10 deep


def test_a_motor_that_is_not_connected_refuses_to_move():
    world = World()
    controller = Picomotor8742Controller(world, motors={2: 0})
    assert controller.execute("2PR10") is None
    assert controller.execute("TB?") == "208, MOTOR NOT CONNECTED"
    assert controller.execute("2MD?") == "1"


def test_motion_takes_time_at_the_set_velocity_and_moves_the_world():
    world = World()
    controller = Picomotor8742Controller(world)
    controller.execute("1VA100")
    controller.execute("1PR50")
    assert controller.execute("1MD?") == "0"
    world.clock.advance(0.2)
    assert controller.execute("1TP?") == "20"
    assert controller.execute("1PR5") is None  # ignored while moving
    assert controller.execute("TB?") == "114, MOTION IN PROGRESS"
    world.clock.advance(1.0)
    assert controller.execute("1MD?") == "1" and controller.execute("1TP?") == "50"
    assert controller.execute("1PR?") == "50"


def test_forward_and_backward_steps_differ_and_drift():
    world = World(seed=3)
    controller = Picomotor8742Controller(world)
    start = {way: controller.step_nm[1][way] for way in ("forward", "backward")}
    assert start["forward"] != pytest.approx(start["backward"], rel=0.02)
    expected = 0.0
    for steps in (100, -100, 100, -100):
        way = "forward" if steps > 0 else "backward"
        expected += steps * controller.step_nm[1][way]
        controller.execute(f"1PR{steps}")
        world.clock.advance(1.0)
        controller.update()
    assert controller.execute("1TP?") == "0"  # the counter is back where it started ...
    assert world.picomotor_nm[1] == pytest.approx(expected)  # ... the actuator is not
    assert abs(world.picomotor_nm[1]) > 100.0
    assert controller.step_nm[1] != start  # the step sizes drifted
    assert world.ground_truth()["picomotor_8742"]["step_nm"]["1"] == controller.step_nm[1]


def test_jog_and_stop_and_abort():
    world = World()
    controller = Picomotor8742Controller(world)
    controller.execute("2MV-; 3MV+")
    world.clock.advance(0.01)
    assert controller.execute("MD?") == "0"
    controller.execute("2ST")
    assert controller.execute("2MD?") == "1" and controller.execute("2TP?") == "-20"
    controller.execute("AB")
    assert controller.execute("MD?") == "1" and controller.execute("3TP?") == "20"


def test_same_seed_same_step_sizes():
    a, b = Picomotor8742Controller(World(seed=5)), Picomotor8742Controller(World(seed=5))
    assert a.step_nm == b.step_nm
    assert a.step_nm != Picomotor8742Controller(World(seed=6)).step_nm


# ---------------------------------------------------------------------------------------- the tepl driver
def test_the_positioner_in_process_with_the_telnet_greeting():
    world = World()
    adapter = Picomotor8742Adapter(Picomotor8742Controller(world))
    role = Picomotor8742Positioner(Picomotor8742(adapter, address="sim", telnet=True), {"x": 1, "y": 2},
                                   max_steps_per_move=1000, sleep=world.clock.advance)
    t0 = world.clock.now()
    role.move_steps("x", 400)
    assert role.is_moving()
    role.wait(timeout_s=5.0)
    assert world.clock.now() - t0 == pytest.approx(400 / 2000, abs=0.02)
    assert role.steps_counter("x") == 400 == adapter.controller.axes[1].count
    assert world.picomotor_nm[1] > 0
    role.move_steps("y", -1000)
    with pytest.raises(DeviceError, match="'2PR-10' was followed by error\\(s\\): 214, MOTION IN PROGRESS"):
        role.controller.move_relative(2, -10)
    assert role.make_safe() == "stopped"
    assert not role.is_moving() and role.make_safe() == "stopped"
    role.close()
    assert adapter.closed


def test_the_driver_over_tcp_via_visa(served):
    world, controller, server = served
    host, port = server.address
    inst = Picomotor8742(f"TCPIP::{host}::{port}::SOCKET", telnet=True)
    try:
        role = Picomotor8742Positioner(inst, {"z": 3}, max_steps_per_move=100, sleep=world.clock.advance)
        role.move_steps("z", -25)
        role.wait(timeout_s=2.0)
        assert role.steps_counter("z") == -25 == controller.axes[3].count
    finally:
        inst.adapter.close()
