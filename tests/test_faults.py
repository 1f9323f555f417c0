"""Faults injected into the simulators: every wait ends by its deadline, a late reply never answers a later
command, transport errors become DeviceError naming instrument, address and command, Ctrl-C ends a stalled
wait, and the loopback server bounds its lines and connections."""

from __future__ import annotations

import _thread
import socket
import threading
import time
import types

import numpy as np
import pytest
from pyvisa.errors import VisaIOError

from tepl.drivers.andor_sdk2 import IDus
from tepl.drivers.pi_e727 import E727
from tepl.drivers.pi_e727_stage import E727Stage
from tepl.drivers.picoquant_counter import TcspcCounter
from tepl.drivers.picoquant_models import HydraHarp
from tepl.drivers.polling import Wait, WaitTimeout, poll
from tepl.drivers.rhk_r9 import R9
from tepl.drivers.rhk_r9_socket import R9Socket
from tepl.drivers.thorlabs_sc10 import SC10, SC10Shutter
from tepl.roles import DeviceError, Range
from tepl.sims.andor_sdk2 import SimSDK2
from tepl.sims.andor_shamrock import SimShamrock
from tepl.sims.faults import Faults
from tepl.sims.pi_e727 import GCSAdapter
from tepl.sims.pi_e727_controller import GCSController
from tepl.sims.picoquant import SimHHLib
from tepl.sims.rhk_r9 import R9Controller, R9InProcess, serve
from tepl.sims.thorlabs_sc10 import SC10Adapter, SC10Controller
from tepl.sims.world import World
from tests.photon_standins import PhotonStandInWorld
from tests.standins import BandSample, BumpSample


# ---------------------------------------------------------------------------------------- the pieces
def test_faults_are_off_by_default_and_count_down():
    faults = Faults()
    assert not faults.any and faults.hit("POS?") is None
    faults.set(stall=True, only={"POS?"}, count=2)
    assert faults.hit("MOV 1 2") is None
    assert faults.hit("POS? 1").stall and faults.hit("POS?").stall
    assert faults.hit("POS?") is None and not faults.any and faults.hits == 2
    with pytest.raises(ValueError, match="unknown fault"):
        faults.set(explode=True)


def test_wait_ends_on_the_wall_clock_when_sleeps_take_no_time():
    """A simulated sleep that costs nothing: the device-time budget is never reached, the wall clock is."""
    wait = Wait("unit X", "something", budget_s=1e9, sleep=lambda s: None, wall_s=0.2)
    start = time.monotonic()
    with pytest.raises(WaitTimeout, match=r"unit X: waited for something; .*wall-clock deadline"):
        while True:
            wait.check()
            wait.pause(0.0)
    assert time.monotonic() - start < 1.0


def test_poll_keeps_its_device_time_budget():
    sleeps = []
    with pytest.raises(DeviceError, match="late"):
        poll(lambda: 0, bool, sleeps.append, 0.1, 0.35, lambda r: DeviceError("late"))
    assert sleeps == [0.1] * 4


# ---------------------------------------------------------------------------------------- PicoQuant
@pytest.fixture
def tcspc():
    world = PhotonStandInWorld(rates_per_s=(20_000.0, 10_000.0), tau_ns=(2.5, 6.0), seed=3)
    lib = SimHHLib(world)
    return lib, lambda margin_s: TcspcCounter(HydraHarp(lib), sleep=world.clock.advance,
                                              acquisition_s=Range(0.001, 100.0, "s"), timeout_margin_s=margin_s)


def test_stalled_ctc_wait_in_histogram_mode_ends_by_its_wall_clock_deadline(tcspc):
    lib, make = tcspc
    counter = make(0.5)
    lib.faults.set(stall=True, delay_s=0.05, only={"CTCStatus"})  # slow and never done
    start = time.monotonic()
    with pytest.raises(WaitTimeout, match=r"HydraHarp 400 HydraHarp #0 \(SimHHLib\): waited for the end of a "
                                          r"0.1 s histogram measurement \(CTCStatus\).*StopMeas") as info:
        counter.histograms(0.1)
    wall = time.monotonic() - start
    assert info.value.wall_s >= 0.6 and wall < 5 * 0.6
    assert wall < 60 * 0.05  # not the 60 polls the device-time budget allows
    lib.faults.clear()
    assert counter.histograms(0.01).shape[0] == 2  # stopped, so the unit measures again


@pytest.mark.parametrize("mode", ["t2", "t3"])
def test_stalled_stream_ends_by_its_device_time_budget(tcspc, mode):
    lib, make = tcspc
    counter = make(1.0)
    lib.faults.set(stall=True, only={"CTCStatus"})
    start = time.monotonic()
    with pytest.raises(WaitTimeout, match=f"waited for the end of a 0.2 s {mode.upper()} measurement"):
        for _ in getattr(counter, f"iter_{mode}")(0.2, block_s=0.1):
            pass
    assert time.monotonic() - start < 5 * 1.2
    lib.faults.clear()
    assert sum(block.channel.size for block in counter.iter_t2(0.05)) > 0


def test_stream_consumer_time_is_not_the_units(tcspc):
    """A slow consumer of the blocks does not use up the wall-clock deadline of the stream."""
    _, make = tcspc
    counter = make(0.3)
    durations = []
    for block in counter.iter_t2(0.5, block_s=0.1):
        time.sleep(0.25)  # 4 or 5 blocks x 0.25 s: past the 0.8 s deadline, were the consumer counted
        durations.append(block.duration_s)
    assert len(durations) >= 4 and sum(durations) == pytest.approx(0.5)


def test_ctrl_c_ends_a_stalled_ctc_wait_and_stops_the_measurement(tcspc):
    lib, make = tcspc
    counter = make(3600.0)  # the deadline is far: only Ctrl-C can end this wait soon
    lib.faults.set(stall=True, delay_s=0.001, only={"CTCStatus"})
    timer = threading.Timer(0.3, _thread.interrupt_main)
    start = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            counter.histograms(1.0)
    finally:
        timer.cancel()
    assert time.monotonic() - start < 5.0
    lib.faults.clear()
    assert lib._meas is None or not lib._meas.running_at(lib.world.clock.now())


def test_an_interrupt_fault_ends_a_stream(tcspc):
    lib, make = tcspc
    counter = make(10.0)
    lib.faults.set(interrupt=True, only={"CTCStatus"}, count=1)
    with pytest.raises(KeyboardInterrupt):
        list(counter.iter_t3(0.5))
    assert counter.histograms(0.01).shape[0] == 2


def test_library_error_code_names_unit_library_and_function(tcspc):
    lib, make = tcspc
    counter = make(1.0)
    lib.faults.set(error_code=-1, only={"GetCountRate"})
    with pytest.raises(DeviceError, match=r"HydraHarp #0 \(SimHHLib\): HH_GetCountRate returned -1"):
        counter.count_rates()


# ---------------------------------------------------------------------------------------- Andor
@pytest.fixture
def camera():
    world = World(sample=BandSample(), seed=7)
    lib = SimSDK2(world, SimShamrock(world))
    return lib, IDus(lib, sleep=world.clock.advance, timeout_margin_s=0.5)


def test_stalled_andor_acquisition_is_aborted_at_its_deadline(camera):
    lib, ccd = camera
    lib.faults.set(stall=True, only={"GetStatus", "GetAcquisitionProgress", "WaitForAcquisition"})
    start = time.monotonic()
    with pytest.raises(WaitTimeout, match=r"Andor DU420_OE #14821 \(SimSDK2\): waited for the end of a 1-frame "
                                          r"acquisition.*aborted") as info:
        ccd.acquire_single(0.1)
    assert time.monotonic() - start < 5 * info.value.wall_s + 1.0 and info.value.wall_s < 5.0
    lib.faults.clear()
    assert ccd.acquire_single(0.01).shape == (1024,)


def test_andor_error_code_names_camera_and_function(camera):
    lib, ccd = camera
    lib.faults.set(error_code=20089, only={"StartAcquisition"}, count=1)
    with pytest.raises(DeviceError, match=r"Andor DU420_OE #14821 \(SimSDK2\): SDK2 StartAcquisition returned "
                                          r"20089 \(DRV_USBERROR\)"):
        ccd.acquire_single(0.01)


# ---------------------------------------------------------------------------------------- E-727
@pytest.fixture
def e727():
    world = World(sample=types.SimpleNamespace())
    adapter = GCSAdapter(GCSController(world))
    stage = E727Stage(E727(adapter), sleep=world.clock.advance)
    return world, adapter, stage


def _truth(world):
    return dict(zip("xyz", np.asarray(world.stage_um, float).tolist(), strict=True))


def test_a_late_e727_reply_never_answers_the_next_command(e727):
    world, adapter, stage = e727
    stage.move_to_um(x=10.0, y=20.0, z=30.0)
    stage.wait_on_target()
    adapter.faults.set(delay_s=0.0, only={"POS?"}, count=1)
    with pytest.raises(DeviceError, match=r"PI E-727 at GCSAdapter: reading the reply to 'POS\? 1 2 3' failed"):
        stage.position_um()
    stage.move_to_um(x=40.0, y=50.0, z=60.0)  # the late POS? reply arrives now, ahead of this command's ERR?
    stage.wait_on_target()
    assert stage.position_um() == pytest.approx({"x": 40.0, "y": 50.0, "z": 60.0}, abs=1e-6)
    assert stage.position_um() == pytest.approx(_truth(world))
    assert stage.instrument.in_step


def test_garbled_and_nan_replies_raise_and_the_link_recovers(e727):
    world, adapter, stage = e727
    adapter.faults.set(garble=True, only={"POS?"}, count=1)
    with pytest.raises(DeviceError, match=r"PI E-727 at GCSAdapter: answered POS\? for axes \['8', '7', '6'\]"):
        stage.position_um()
    adapter.faults.set(nan_reply=True, only={"POS?"}, count=1)
    with pytest.raises(DeviceError, match="finite number"):
        stage.position_um()
    assert stage.position_um() == pytest.approx(_truth(world))


def test_a_stalled_e727_is_a_device_error_and_the_link_recovers(e727):
    world, adapter, stage = e727
    adapter.faults.set(stall=True, only={"ONT?"})
    stage.move_to_um(x=5.0, y=5.0, z=5.0)
    with pytest.raises(DeviceError, match=r"PI E-727 at GCSAdapter: reading the reply to 'ONT\? 1 2 3' failed"):
        stage.wait_on_target()
    adapter.faults.clear()
    stage.wait_on_target()
    assert stage.position_um() == pytest.approx({"x": 5.0, "y": 5.0, "z": 5.0}, abs=1e-6)


def test_a_dropped_link_names_controller_and_command(e727):
    _, adapter, stage = e727
    adapter.faults.set(disconnect=True, count=1)
    with pytest.raises(DeviceError, match=r"PI E-727 at GCSAdapter: sending 'MOV 1 1' failed: ConnectionError"):
        stage.move_to_um(x=1.0)


def test_a_visa_timeout_becomes_a_device_error_with_address_and_command(e727, monkeypatch):
    world = e727[0]
    instrument = E727(GCSAdapter(GCSController(world)), address="TCPIP::10.0.0.7::50000::SOCKET")

    def timeout(**kwargs):
        raise VisaIOError(-1073807339)  # VI_ERROR_TMO

    monkeypatch.setattr(instrument.adapter, "_read", timeout)
    with pytest.raises(DeviceError, match=r"PI E-727 at TCPIP::10.0.0.7::50000::SOCKET: reading the reply to "
                                          r"'POS\? 1' failed: VisaIOError: VI_ERROR_TMO") as info:
        instrument.positions_um(["1"])
    assert isinstance(info.value.__cause__, VisaIOError)


def test_stalled_on_target_wait_ends_by_its_deadline(e727):
    """ONT? keeps answering 0 (a stage that never settles): the wait ends at settle_timeout_s."""
    world, adapter, _ = e727
    stage = E727Stage(E727(adapter), sleep=lambda s: None, settle_timeout_s=1e6, poll_interval_s=0.001)
    stage.settle_timeout_s = 1e6
    adapter.controller.axes["1"].servo = True
    original = adapter.controller._axis_queries["ONT?"]
    adapter.controller._axis_queries["ONT?"] = lambda a, t: 0
    start = time.monotonic()
    try:
        with pytest.raises(DeviceError, match="PI E-727 at GCSAdapter: stage not on target"):
            stage.wait_on_target(timeout_s=0.3)  # sleeps that take no time: only the wall clock ends it
    finally:
        adapter.controller._axis_queries["ONT?"] = original
    assert time.monotonic() - start < 5 * 0.3


# ---------------------------------------------------------------------------------------- R9
@pytest.fixture
def r9world():
    return World(sample=BumpSample(), drift_nm_per_s=(0.0, 0.0))


def test_r9_in_process_faults_become_device_errors_and_late_replies_are_dropped(r9world):
    transport = R9InProcess(R9Controller(r9world))
    r9 = R9(transport)
    transport.faults.set(delay_s=0.0, only={"Upper Bound"}, count=1)
    with pytest.raises(DeviceError, match=r"R9 at R9InProcess: 'GetHWSubParameter, Z PI Controller 1, Upper Bound, "
                                          r"Value' failed: TimeoutError"):
        r9.z_bounds_m()
    r9.set_tip_control("Freeze")  # the late value was dropped with the connection, not read as this reply
    assert r9.tip_control() == "Freeze"
    transport.faults.set(garble=True, only={"SetHWParameter"}, count=1)
    with pytest.raises(DeviceError, match=r"reply to 'SetHWParameter.*' is not 'Done': '\?Done'"):
        r9.set_tip_control("Retract")
    transport.faults.set(nan_reply=True, only={"ReadChannelValue"}, count=1)
    with pytest.raises(DeviceError, match="not a finite number"):
        r9.z_m()


def test_r9_socket_drains_stale_bytes_before_a_command(r9world):
    controller = R9Controller(r9world)
    with serve(r9world, 0, controller=controller) as server:
        transport = R9Socket(*server.address, timeout_s=2.0)
        r9 = R9(transport)
        try:
            r9.set_tip_control("Freeze")
            sock = transport._sock
            server_side = next(iter(server._server.connections))
            server_side.sendall(b"1.5e-06")  # unasked bytes, as a reply that came too late
            time.sleep(0.1)
            assert transport._sock is sock
            assert r9.tip_control() == "Freeze"
        finally:
            transport.close()


def test_r9_socket_timeout_names_address_and_command(r9world):
    with serve(r9world, 0) as server:
        server.faults.set(stall=True)
        transport = R9Socket(*server.address, timeout_s=0.2)
        start = time.monotonic()
        with pytest.raises(DeviceError, match=rf"no reply from the R9 at 127.0.0.1:{server.port} to "
                                              r"'ReadChannelValue, z0-src' within 0.2 s"):
            R9(transport).z_m()
        assert time.monotonic() - start < 5 * 0.2
        server.faults.clear()
        assert R9(transport).z_m() > 0  # a new connection: nothing stale
        transport.close()


# ---------------------------------------------------------------------------------------- SC10
def test_sc10_link_faults_name_the_shutter_and_command():
    world = World(sample=types.SimpleNamespace())
    adapter = SC10Adapter(SC10Controller(world))
    shutter = SC10Shutter(SC10(adapter, address="ASRL/dev/ttyUSB0::INSTR"), sleep=world.clock.advance)
    adapter.faults.set(stall=True, only={"closed?"})
    with pytest.raises(DeviceError, match=r"Thorlabs SC10 at ASRL/dev/ttyUSB0::INSTR: no complete reply to "
                                          r"'closed\?'"):
        shutter.is_open()
    adapter.faults.set(interrupt=True, count=1)
    with pytest.raises(KeyboardInterrupt):
        shutter.shut()


# ---------------------------------------------------------------------------------------- TCP server
def _ask(address, line: bytes, timeout_s: float = 2.0) -> bytes:
    with socket.create_connection(address, timeout=timeout_s) as sock:
        sock.sendall(line)
        return sock.recv(4096)


def test_a_client_flooding_without_newline_is_cut_off_and_others_are_served(r9world):
    with serve(r9world, 0) as server:
        sent, outcome = [0], []

        def flood() -> None:
            chunk = b"x" * (1 << 20)
            try:
                with socket.create_connection(server.address, timeout=5) as sock:
                    for _ in range(64):  # 64 MiB without a newline
                        sock.sendall(chunk)
                        sent[0] += len(chunk)
                    outcome.append(sock.recv(16))  # b"" once the server has closed
            except OSError as exc:
                outcome.append(exc)

        flooder = threading.Thread(target=flood, daemon=True)
        start = time.monotonic()
        flooder.start()
        replies = [_ask(server.address, b"GetHWSubParameter, Z PI Controller 1, Upper Bound, Value\n")
                   for _ in range(5)]
        flooder.join(timeout=20)
        assert not flooder.is_alive() and time.monotonic() - start < 20
        assert all(float(r) == 2.0e-6 for r in replies)
        assert outcome and (outcome[0] == b"" or isinstance(outcome[0], OSError))
        assert sent[0] < 64 << 20  # the server stopped reading long before the 64 MiB


def test_at_most_eight_clients_at_once(r9world):
    with serve(r9world, 0) as server:
        clients = [socket.create_connection(server.address, timeout=2) for _ in range(8)]
        try:
            for sock in clients:
                sock.sendall(b"GetHWParameter, Z PI Controller 1, Tip Control\n")
                assert sock.recv(64) == b"Retract"
            with socket.create_connection(server.address, timeout=2) as ninth:
                assert ninth.recv(64) == b""  # accepted and closed at once
            clients.pop().close()
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                try:
                    reply = _ask(server.address, b"GetHWParameter, Z PI Controller 1, Tip Control\n")
                except OSError:
                    reply = b""
                if reply == b"Retract":
                    break
                time.sleep(0.02)
            assert reply == b"Retract"  # a slot is free again
        finally:
            for sock in clients:
                sock.close()
