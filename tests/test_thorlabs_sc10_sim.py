"""The SC10 simulator against the checklist of hardware.md section 7, over real loopback sockets: a plain
client framed as InstrumentKit's SC10 reads (echo line, value line, then exactly ``> `` from one
``recv(2)``), micro-manager's start-up sequence, and the tepl driver through VISA's TCP socket resource."""

from __future__ import annotations

import socket

import pytest

from tepl.drivers.thorlabs_sc10 import SC10, SC10Shutter
from tepl.roles import DeviceError
from tepl.sims.thorlabs_sc10 import IDENTITY, SC10Controller, SC10Session, serve
from tepl.sims.world import World


class InstrumentKitStyle:
    """The framing of InstrumentKit's ``SC10`` over ``open_tcpip`` (main branch): terminator CR, prompt "> ";
    a query reads the echo line (must equal the command), the value line, then ``recv(2)`` must be "> "."""

    def __init__(self, address):
        self.sock = socket.create_connection(address, timeout=2)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def readline(self) -> str:
        out = bytearray()
        while not out.endswith(b"\r"):
            byte = self.sock.recv(1)
            assert byte, "connection closed mid-line"
            out += byte
        return out[:-1].decode()

    def _exchange(self, command: str, value_line: bool) -> str | None:
        self.sock.sendall(command.encode() + b"\r")
        echo = self.readline()
        assert echo == command, f"AcknowledgementError: sent {command!r}, echo {echo!r}"
        value = self.readline() if value_line else None
        prompt = self.sock.recv(2)
        assert prompt == b"> ", f"PromptError: {prompt!r}"
        return value

    def query(self, command: str) -> str:
        return self._exchange(command, True)

    def sendcmd(self, command: str) -> None:
        self._exchange(command, False)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def served(world):
    with serve(world, 0) as server:
        yield server.controller, server


@pytest.fixture
def client(served):
    kit = InstrumentKitStyle(served[1].address)
    yield kit
    kit.close()


def test_nothing_is_sent_on_connect(served):
    with socket.create_connection(served[1].address, timeout=0.2) as sock:
        with pytest.raises(TimeoutError):
            sock.recv(16)


def test_instrumentkit_framing_queries_and_the_enable_toggle(client, served, world):
    controller, _ = served
    assert not world.excitation_open  # the controller powers up closed
    assert client.query("id?") == IDENTITY
    assert client.query("ens?") == "0" and client.query("closed?") == "1"
    client.sendcmd("mode=1")
    client.sendcmd("ens")  # InstrumentKit's enable setter: ens? then ens if it differs
    assert client.query("ens?") == "1" and client.query("closed?") == "0"
    assert world.excitation_open and controller.shutter_open
    client.sendcmd("ens")
    assert client.query("ens?") == "0" and client.query("closed?") == "1" and not world.excitation_open
    assert client.query("interlock?") == "0"
    client.sendcmd("open=250")
    assert client.query("open?") == "250"
    assert client.query("mode?") == "1" and client.query("rep?") == "1" and client.query("baud?") == "0"


def test_a_whole_reply_comes_in_one_write(served):
    with socket.create_connection(served[1].address, timeout=2) as sock:
        for command, reply in ((b"ens?\r", b"ens?\r0\r> "), (b"ens\r", b"ens\r> "),
                               (b"id?\r", b"id?\r" + IDENTITY.encode() + b"\r> ")):
            sock.sendall(command)
            assert sock.recv(4096) == reply
    session = SC10Session(served[0])  # at the session level: one feed, one reply, prompt included
    assert session.feed(b"closed?\r") == b"closed?\r0\r> "


def test_errors_leave_the_state_unchanged(client, served, world):
    controller, _ = served
    client.sendcmd("ens")
    before = dict(controller.values), controller.enabled
    assert client.query("ens=1") == "Command error CMD_NOT_DEFINED"  # ens takes no argument
    assert client.query("open sesame") == "Command error CMD_NOT_DEFINED"
    assert client.query("mode") == "Command error CMD_NOT_DEFINED"
    for bad in ("mode=9", "mode=0", "mode=x", "mode=", "open=1234567", "shut=-1", "rep=0", "rep=100",
                "trig=2", "baud=2"):
        assert client.query(bad) == "Command error CMD_ARG_INVALID", bad
    assert (dict(controller.values), controller.enabled) == before
    assert world.excitation_open


def test_stray_lf_is_ignored_and_idn_answers_like_id(served):
    with socket.create_connection(served[1].address, timeout=2) as sock:
        sock.sendall(b"ens?\r\n")
        assert sock.recv(4096) == b"ens?\r0\r> "
        sock.sendall(b"\n*idn?\r")
        assert sock.recv(4096) == b"*idn?\r" + IDENTITY.encode() + b"\r> "


def test_micro_manager_start_up_and_open(served, world):
    """micro-manager's SC10 adapter: *idn?, mode=1, then ens? and ens to open; it reads up to '>'."""
    with socket.create_connection(served[1].address, timeout=2) as sock:
        replies = []
        for command in (b"*idn?\r", b"mode=1\r", b"ens?\r", b"ens\r"):
            sock.sendall(command)
            replies.append(sock.recv(4096))
    assert replies == [b"*idn?\rTHORLABS SC10 VERSION 1.07\r> ", b"mode=1\r> ", b"ens?\r0\r> ", b"ens\r> "]
    assert world.excitation_open


def test_one_state_for_every_connection(served):
    a, b = InstrumentKitStyle(served[1].address), InstrumentKitStyle(served[1].address)
    try:
        a.sendcmd("ens")
        assert b.query("ens?") == "1" and b.query("closed?") == "0"
        b.sendcmd("shut=42")
        assert a.query("shut?") == "42"
    finally:
        a.close()
        b.close()


def test_timed_modes_keep_the_shutter_closed_and_the_interlock_blocks_it(world):
    controller = SC10Controller(world)
    session = SC10Session(controller)
    session.feed(b"ens\r")
    assert world.excitation_open
    session.feed(b"mode=2\r")  # the auto cycle is not simulated: closed
    assert session.feed(b"closed?\r") == b"closed?\r1\r> " and not world.excitation_open
    session.feed(b"mode=1\r")
    assert world.excitation_open
    controller.trip_interlock()
    assert session.feed(b"interlock?\r") == b"interlock?\r1\r> " and not world.excitation_open
    session.feed(b"ens\r")
    assert session.feed(b"ens?\r") == b"ens?\r0\r> "  # cannot enable while tripped
    controller.trip_interlock(False)
    session.feed(b"ens\r")
    assert world.excitation_open


def test_savp_and_resp_keep_the_settings(world):
    session = SC10Session(SC10Controller(world))
    session.feed(b"open=100\rsavp\ropen=5\r")
    assert session.feed(b"resp\ropen?\r") == b"resp\r> open?\r100\r> "


# ---------------------------------------------------------------------------------------- the tepl driver
def test_driver_over_tcp_through_visa(served, world):
    _, server = served
    host, port = server.address
    address = f"TCPIP::{host}::{port}::SOCKET"
    shutter = SC10Shutter(SC10(address, visa_library="@py"), sleep=world.clock.advance)
    try:
        assert shutter.identity == IDENTITY
        shutter.open()
        assert shutter.is_open() and world.excitation_open
        assert shutter.make_safe() == "closed" and not world.excitation_open
        assert shutter.settings()["mode_name"] == "manual"
        server.controller.trip_interlock()
        with pytest.raises(DeviceError, match=f"Thorlabs SC10 at {address}: interlock tripped"):
            shutter.open()
        with pytest.raises(DeviceError, match="'ens=1' was answered 'Command error CMD_NOT_DEFINED'"):
            shutter.controller.command("ens=1")
    finally:
        shutter.close()


def test_tepl_serve_thorlabs_sc10():
    import subprocess
    import sys

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "tepl.cli", "serve", "thorlabs-sc10", "--port", str(port)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert f"thorlabs-sc10 simulator on 127.0.0.1:{port}" in proc.stdout.readline()
        kit = InstrumentKitStyle(("127.0.0.1", port))
        try:
            assert kit.query("id?") == IDENTITY and kit.query("closed?") == "1"
        finally:
            kit.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
