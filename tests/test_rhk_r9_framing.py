"""R9 replies carry no terminator: the driver must read until a reply is whole, whatever the segmenting, and
an R9 that acknowledges a procedure with two replies (``Started``, then ``Done``) must not shift later answers.

The truth each test compares with is the simulator itself: the same commands sent in-process (one call, one
whole reply) to an R9 on a World with the same seed."""

from __future__ import annotations

import socket
import threading

import h5py
import numpy as np
import pytest

from tepl.drivers.rhk_r9 import R9
from tepl.drivers.rhk_r9_socket import R9Socket
from tepl.sims.rhk_r9 import R9Controller, R9InProcess, serve
from tepl.sims.world import World
from tests.standins import BumpSample

SPLIT_DELAY_S = 0.005
TWO_LINE_ACK = ("Started", "Done")


def _world() -> World:
    return World(sample=BumpSample(), drift_nm_per_s=(0.0, 0.0))


def _session(r9: R9) -> list:
    """A fixed command sequence touching every reply kind; returns what each get returned."""
    out: list = []
    r9.set_setpoint_V(0.0855)
    out.append(r9.setpoint_V())
    r9.set_integral_gain(25.0)
    out.append(r9.integral_gain())
    out.append(r9.z_bounds_m())
    out.append(r9.tip_control())
    out.append(r9.amplitude_V())
    r9.set_tip_control("Freeze")
    out.append(r9.tip_control())
    r9.set_z_position_m(1.5e-6)
    out.append(r9.z_m())
    r9.set_tip_control("Retract")
    r9.step_in()
    out.append(r9.tip_control())  # the first answer after a procedure: shifted by a stray reply on old code
    out.append(r9.z_m())
    r9.step_out()
    r9.step_out()
    out.append(r9.phase_deg())
    out.append(r9.amplitude_V())
    r9.stop_procedure("Pan Single Step Out")
    out.append(r9.tip_control())
    return out


@pytest.mark.parametrize("split, ack", [(True, (("Done",))), (False, TWO_LINE_ACK), (True, TWO_LINE_ACK)],
                         ids=["split", "two-line-ack", "split+two-line-ack"])
def test_served_r9_gives_the_in_process_answers(split, ack):
    truth_ctrl = R9Controller(_world(), procedure_ack=ack)
    truth = _session(R9(R9InProcess(truth_ctrl)))
    world = _world()
    ctrl = R9Controller(world, procedure_ack=ack)
    with serve(world, 0, controller=ctrl, split_delay_s=SPLIT_DELAY_S if split else None) as server:
        transport = R9Socket(*server.address, timeout_s=2.0)
        try:
            served = _session(R9(transport))
        finally:
            transport.close()
    assert served == truth
    assert ctrl.coarse_steps_nm == truth_ctrl.coarse_steps_nm and len(ctrl.coarse_steps_nm) == 3
    assert world.tip_z_nm == truth_ctrl.world.tip_z_nm


def _scripted(segments: list[list[bytes]], received: list[bytes]) -> tuple[str, int]:
    """A TCP peer: for the n-th line it receives, sends ``segments[n]`` one by one with pauses between."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def run() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            buffer = b""
            for reply in segments:
                while b"\n" not in buffer:
                    data = conn.recv(4096)
                    if not data:
                        return
                    buffer += data
                line, buffer = buffer.split(b"\n", 1)
                received.append(line)
                for segment in reply:
                    conn.sendall(segment)
                    threading.Event().wait(0.03)
            conn.recv(4096)
        listener.close()

    threading.Thread(target=run, daemon=True).start()
    return listener.getsockname()


def test_a_number_split_across_segments_is_read_whole():
    received: list[bytes] = []
    transport = R9Socket(*_scripted([[b"0.0", b"9012"], [b"1.25", b"e-06"]], received), timeout_s=2.0)
    transport.reply_gap_s = 0.2  # s: longer than the peer's pause between segments, even on a busy machine
    try:
        r9 = R9(transport)
        assert r9.amplitude_V() == 0.09012
        assert r9.z_m() == 1.25e-06
    finally:
        transport.close()
    assert received == [b"ReadChannelValue, LIA 1 Amplitude", b"ReadChannelValue, z0-src"]


def test_done_split_across_segments_is_one_acknowledgement():
    received: list[bytes] = []
    transport = R9Socket(*_scripted([[b"Do", b"ne"], [b"Fre", b"eze"]], received), timeout_s=2.0)
    try:
        r9 = R9(transport)
        r9.set_tip_control("Freeze")
        assert r9.tip_control() == "Freeze"
    finally:
        transport.close()


def test_a_late_acknowledgement_beside_a_value_is_not_the_value():
    """``Started`` / ``Done`` that belong to an earlier command, arriving glued to a value, are dropped."""
    transport = R9Socket(*_scripted([[b"Started", b"Done", b"Done"], [b"DoneRetract"], [b"1.5e-06Done"]], []),
                         timeout_s=2.0)
    try:
        r9 = R9(transport)
        r9.step_in()
        assert r9.tip_control() == "Retract"
        assert r9.z_m() == 1.5e-06
    finally:
        transport.close()


def test_sweep_through_a_served_r9_splitting_replies_gives_the_in_process_data(tmp_path):
    """A distance sweep on the simulated station, once in-process and once with the R9 behind loopback TCP
    (replies split in two segments, procedures acknowledged with two lines): the same data, value for value."""
    from tepl.procedures import run_procedure
    from tepl.station import build_station

    def sweep(path, served: bool) -> dict:
        station = build_station()
        r9 = station.zcontrol.r9
        server = None
        try:
            if served:
                controller = r9.transport.controller
                controller.procedure_ack = TWO_LINE_ACK
                server = serve(controller.world, 0, controller=controller, split_delay_s=SPLIT_DELAY_S).start()
                r9.transport = R9Socket(*server.address, timeout_s=2.0)
            run_procedure("distance-sweep", station, path, start_gap_nm=40.0, stop_gap_nm=12.0)
        finally:
            station.close()
            if server is not None:
                server.stop()
        with h5py.File(path) as f:
            assert f["entry"].attrs["status"] == "complete"
            data = f["entry/data"]
            return {k: data[k][()] for k in data if isinstance(data[k], h5py.Dataset)}

    in_process = sweep(tmp_path / "in_process.h5", False)
    served = sweep(tmp_path / "served.h5", True)
    assert set(served) == set(in_process) and "spectra" in served and "gap_nm" in served
    for key, values in in_process.items():
        np.testing.assert_array_equal(served[key], values, err_msg=key)
