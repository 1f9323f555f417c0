"""The RHK R9 driver over real loopback TCP sockets: against the simulator's server and scripted servers."""

from __future__ import annotations

import socket
import threading

import pytest

from tepl.drivers.rhk_r9 import R9
from tepl.drivers.rhk_r9_socket import R9Socket
from tepl.roles import DeviceError
from tepl.sims.rhk_r9 import R9Controller, serve
from tepl.sims.world import World
from tests.standins import BumpSample

C = "Z PI Controller 1"


@pytest.fixture
def world() -> World:
    return World(sample=BumpSample(), drift_nm_per_s=(0.0, 0.0))


# ---------------------------------------------------------------------------------------- over TCP
@pytest.fixture
def served(world):
    ctrl = R9Controller(world)
    with serve(world, 0, controller=ctrl) as server:
        yield ctrl, server


def test_one_connection_per_query_client(served, world):
    """A client that opens a fresh connection per command and reads one chunk, as R9 user scripts do."""
    ctrl, server = served

    def ask(line: str) -> bytes:
        with socket.create_connection(server.address, timeout=2) as sock:
            sock.sendall(line.encode() + b"\n")
            return sock.recv(4096)

    assert ask("SetHWSubParameter, Z PI Controller, Set Point, Value, 0.07") == b"Done"
    assert ctrl.setpoint_V == 0.07
    assert float(ask("GetHWSubParameter, Z PI Controller 1, Upper Bound, Value")) == 2.0e-6
    assert ask("Foo").startswith(b"Error: unknown command 'Foo'")


def test_driver_over_loopback_tcp(served, world):
    ctrl, server = served
    transport = R9Socket(*server.address, timeout_s=2.0)
    r9 = R9(transport)
    try:
        r9.set_setpoint_V(0.085)
        assert ctrl.setpoint_V == 0.085 and r9.setpoint_V() == 0.085
        assert r9.z_bounds_m() == (0.0, 2.0e-6)
        r9.set_tip_control("Freeze")
        assert r9.tip_control() == "Freeze" and ctrl.tip_control == "Freeze"
        r9.set_z_position_m(1.5e-6)
        assert world.tip_z_nm == pytest.approx(1500.0)
        assert r9.z_m() == pytest.approx(1.5e-6, abs=1e-10)
        r9.step_in()
        assert ctrl.coarse_base_nm == -80.0 and world.tip_z_nm == pytest.approx(1420.0)
        with pytest.raises(DeviceError, match="LIA 9"):
            r9.read_channel("LIA 9")
        r9.set_tip_control("Retract")
    finally:
        transport.close()


def _scripted_server(chunks: list[bytes], received: list[bytes]):
    """A one-shot TCP peer: reads one line, records it, sends ``chunks`` as separate segments."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def run() -> None:
        conn, _ = listener.accept()
        with conn:
            data = b""
            while not data.endswith(b"\n"):
                data += conn.recv(4096)
            received.append(data)
            for chunk in chunks:
                conn.sendall(chunk)
                threading.Event().wait(0.05)
            conn.recv(4096)
        listener.close()

    threading.Thread(target=run, daemon=True).start()
    return listener.getsockname()


def test_socket_reads_procedure_replies_sent_in_two_chunks():
    received: list[bytes] = []
    transport = R9Socket(*_scripted_server([b"Done", b"Done"], received), timeout_s=2.0)
    try:
        R9(transport).step_in()
    finally:
        transport.close()
    assert received == [b"StartProcedure, Pan Single Step In\n"]


def test_socket_times_out_with_a_device_error():
    transport = R9Socket(*_scripted_server([], []), timeout_s=0.1)
    try:
        with pytest.raises(DeviceError, match="no reply.*z0-src"):
            R9(transport).z_m()
    finally:
        transport.close()


def test_socket_refused_connection_is_a_device_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DeviceError, match="cannot connect"):
        R9Socket("127.0.0.1", port, timeout_s=0.5).query("ReadChannelValue, z0-src")


